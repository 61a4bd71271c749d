"""Status codes that kernels return instead of raising, and their messages."""

OK = 0
INDEX_TRUNCATED = 1
START_OUT_OF_RANGE = 2
CHAINS_TRUNCATED = 3
MOVE_OUT_OF_RANGE = 4
COMPONENT_COUNT = 5
RECORDS_TRUNCATED = 6
PIN_OUT_OF_RANGE = 7
CC_OUT_OF_RANGE = 8
RECORDS_TRAILING = 9
BAD_PERMUTATION = 10
TOO_MANY_BRANCHES = 11

MESSAGES = {
    INDEX_TRUNCATED: "the chain-start (BOC) index runs past the end of the slice's crack code",
    START_OUT_OF_RANGE: "a chain starts at a vertex outside the slice",
    CHAINS_TRUNCATED: "the crack code ends before every chain has terminated",
    MOVE_OUT_OF_RANGE: "the crack code walks outside the slice",
    COMPONENT_COUNT: "the crack code yields a different number of components than the labels section lists",
    RECORDS_TRUNCATED: "a pin record runs past the end of the labels section",
    PIN_OUT_OF_RANGE: "a pin lies outside the volume",
    CC_OUT_OF_RANGE: "a component id lies outside the volume's components",
    RECORDS_TRAILING: "bytes are left over after the last pin record",
    BAD_PERMUTATION: "the Markov model holds a permutation index above 23",
    TOO_MANY_BRANCHES: "the crack code opens more branches than the slice has room for",
}

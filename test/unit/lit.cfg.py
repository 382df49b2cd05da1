# -*- Python -*-
# lit configuration of the unit tests: every GoogleTest binary named *Tests in
# the unit test build folder.

import lit.formats

config.name = "memmamba-mlir-unit"
config.suffixes = []
config.test_source_root = config.mm_unit_test_dir
config.test_exec_root = config.mm_unit_test_dir
config.test_format = lit.formats.GoogleTest(".", "Tests")

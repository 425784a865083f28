# -*- Python -*- lit configuration of the Sparsa regression tests.
import os

import lit.formats
from lit.llvm import llvm_config

config.name = "Sparsa"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "CMakeLists.txt", "Integration"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.sparsa_obj_root, "test")

llvm_config.with_system_environment(["HOME", "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"])
llvm_config.use_default_substitutions()
tool_dirs = [config.sparsa_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["sparsa-opt", "sparsa-compile", "sparsa-run"], tool_dirs)
config.substitutions.append(("%sparsa_src_root", os.path.dirname(config.test_source_root)))
config.substitutions.append(("%sparsa_obj_root", config.sparsa_obj_root))

"""pip install of the attnscope Python package: the extension module is built by the project's
CMake (target _attnscope) and laid beside the pure-Python layer (python/attnscope).

    python3 -m venv --system-site-packages venv          # Debian's numpy, setuptools, wheel
    venv/bin/pip install --no-build-isolation .          # no network needed

ATTNSCOPE_PREBUILT=build/python/attnscope/_attnscope.<tag>.so reuses a module already built by
scripts/test.sh instead of building again (the package test does this).
"""
import glob
import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        prebuilt = os.environ.get("ATTNSCOPE_PREBUILT")
        if prebuilt:
            if not os.path.isfile(prebuilt):
                raise RuntimeError(f"ATTNSCOPE_PREBUILT={prebuilt}: no such file")
            shutil.copyfile(prebuilt, target)
            return
        build = os.path.abspath(os.path.join(self.build_temp, "cmake"))
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DATTNSCOPE_TESTS=OFF",
                               "-DATTNSCOPE_BENCH=OFF", f"-DPython3_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", build, "--target", "_attnscope", "-j", str(os.cpu_count() or 2)])
        built = glob.glob(os.path.join(build, "python", "attnscope", "_attnscope*.so"))
        if not built:
            raise RuntimeError(f"the CMake build left no _attnscope module in {build}/python/attnscope")
        shutil.copyfile(built[0], target)


setup(
    name="attnscope",
    version="0.1.0",
    description="Capture and analyze attention in transformer language models (native engine)",
    packages=["attnscope"],
    # the original module's import lines (from transformer_autoencoder import TransformerRunner)
    py_modules=["transformer_autoencoder", "attention_data_analyzer"],
    package_dir={"": "python"},
    package_data={"attnscope": ["__init__.pyi", "py.typed"]},
    ext_modules=[Extension("attnscope._attnscope", sources=[])],
    cmdclass={"build_ext": CMakeBuild},
    python_requires=">=3.9",
    install_requires=["numpy"],
    zip_safe=False,
    # setuptools' own build files beside the CMake build, not among the sources
    options={"build": {"build_base": os.path.join("build", "pip")}},
)

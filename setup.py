"""The compiled part of teardown: the per-segment walk (analyzer/walk.pyx).

Everything else is in pyproject.toml; setuptools reads both.
"""

from Cython.Build import cythonize
from setuptools import setup

setup(ext_modules=cythonize(["analyzer/walk.pyx"], compiler_directives={"language_level": 3}))

# Shared by the layers' makefiles (`BuildMethod: makefile` in template.yaml). SAM runs
# `make build-<LogicalId>` with ARTIFACTS_DIR set; a layer's packages go to $(ARTIFACTS_DIR)/python.
#
# Why not SAM's own python builder: it asks pip only for the tags linux_aarch64, manylinux2014,
# manylinux_2_17/2_28/2_34, and mini-racer's arm64 wheels are manylinux_2_27 only, so resolution
# fails on any machine that is not itself an aarch64 Amazon Linux. Here pip gets every manylinux
# tag that Lambda's python3.12 runtime (Amazon Linux 2023, glibc 2.34) can load, binary wheels only
# (nothing is compiled for the build machine by mistake). tests/build checks the result with readelf.
#
# BUILD_PLATFORM=aarch64 (the default: Lambda's arm64) or x86_64 (a native copy, for `make bench`
# on an x86_64 machine); `make build-native` sets it.
BUILD_PLATFORM ?= aarch64
PYTHON ?= python3.12
MANYLINUX_TAGS := manylinux2014 manylinux_2_27 manylinux_2_28 manylinux_2_34
PIP_INSTALL = $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile --only-binary=:all: \
	$(foreach t,$(MANYLINUX_TAGS),--platform $(t)_$(BUILD_PLATFORM)) --implementation cp --python-version 3.12 \
	--target $(ARTIFACTS_DIR)/python
# unchecked-hash: the runtime loads each .pyc without stat-ing its source (the code is immutable
# once deployed) and never tries to write one into the read-only /opt or /var/task.
COMPILE = $(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash

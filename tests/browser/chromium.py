"""Debian's Chromium and its chromedriver for the browser tests: found on PATH, else installed with
apt-get when running as root (never a browser download), else a reason to skip."""

from __future__ import annotations

import os
import shutil
import subprocess

PACKAGES = ("chromium", "chromium-driver")


def binaries() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def ensure_chromium() -> tuple[str, str] | str:
    """``(chromium, chromedriver)`` paths, installing the Debian packages if needed and possible;
    otherwise the reason they are not available (the tests skip with it)."""
    found = binaries()
    if found:
        return found
    if shutil.which("apt-get") is None:
        return "Chromium is not installed and this system has no apt-get (install chromium and chromedriver)"
    if os.geteuid() != 0:
        return "Chromium is not installed and installing it needs root: sudo apt-get install -y " + " ".join(PACKAGES)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a stale package index: refresh it once
        subprocess.run(["apt-get", "update"], env=env, capture_output=True, check=False)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = binaries()
    if found:
        return found
    return f"Chromium could not be installed with apt-get ({done.returncode}): {done.stderr.strip()[-400:]}"


if __name__ == "__main__":
    print(ensure_chromium())

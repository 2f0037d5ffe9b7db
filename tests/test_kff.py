"""./kff's venv check: a venv whose stamp matches its requirements but lacks a package is topped up."""
from importlib import metadata

from devtools import requirements_check


def test_a_pinned_package_that_is_absent_or_at_another_version_is_named(tmp_path):
    numpy = metadata.version("numpy")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# comment\nnumpy=={numpy}\n--extra-index-url x\nno-such-package-kff==1.0\n"
                            "pytest==0.0.1  # pinned\n", encoding="utf-8")
    absent = requirements_check.missing(requirements.read_text().splitlines())
    assert absent == ["no-such-package-kff (not installed)", f"pytest ({metadata.version('pytest')} installed, 0.0.1 wanted)"]
    assert requirements_check.main([str(requirements)]) == 1


def test_a_complete_venv_passes_and_a_wildcard_pin_matches_its_prefix(tmp_path):
    numpy = metadata.version("numpy")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"numpy=={numpy}\n", encoding="utf-8")
    major = numpy.split(".")[0]
    assert requirements_check.main([str(requirements), f"numpy=={major}.*"]) == 0
    assert requirements_check.main([str(requirements), f"numpy=={int(major) + 1}.*"]) == 1

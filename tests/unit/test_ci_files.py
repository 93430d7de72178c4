"""The CI files users and GitHub read: netlab's own workflow runs the README's test command as
root on ubuntu-24.04; the composite action hands NETLAB_EXPORT to the tests and uploads it."""
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def test_the_workflow_runs_the_readmes_test_command_as_root():
    readme = (ROOT / "README.md").read_text().split("```sh\n", 1)[1].splitlines()
    test_command = readme[1].split()[0]
    job = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]["test"]
    assert job["runs-on"] == "ubuntu-24.04" and job["timeout-minutes"] <= 90
    runs = [s["run"] for s in job["steps"] if "run" in s]
    assert len(runs) == 1 and runs[0].startswith("sudo ") and runs[0].endswith(f"bash {test_command}")
    assert (ROOT / ".ci" / "run").read_text().strip().endswith(f'"$(dirname "$0")/../{test_command}"')


def test_the_action_exports_failed_labs_and_uploads_them():
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    tests = next(s for s in steps if s["name"] == "tests")
    assert "NETLAB_EXPORT" in tests["env"] and "--preserve-env=NETLAB_EXPORT" in tests["run"]
    upload = steps[-1]
    assert upload["if"] == "failure()" and upload["uses"].startswith("actions/upload-artifact@")
    assert upload["with"]["path"] == tests["env"]["NETLAB_EXPORT"]
    assert "scripts/install.sh" in steps[0]["run"]


def test_unit_and_integration_test_files_have_different_names():
    """pytest imports test modules by basename (rootdir-relative, no packages): two of one name
    stop the whole run at collection."""
    from pathlib import Path
    tests = Path(__file__).parents[1]
    unit = {p.name for p in (tests / "unit").glob("test_*.py")}
    integration = {p.name for p in (tests / "integration").glob("test_*.py")}
    assert unit & integration == set()

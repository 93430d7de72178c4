import pytest

# golden_files.check's assert shows the diff, as an assert in a test does
pytest.register_assert_rewrite("golden_files")

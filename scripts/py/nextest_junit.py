"""What scripts/test.sh reads from nextest: its JUnit reports (the `ci` profile of
.config/nextest.toml), not its text.

    nextest_junit.py path             the report's path: <workspace>/target/nextest/ci/
                                      junit.xml, the workspace root as `cargo metadata`
                                      gives it (read on standard input); nextest's store is
                                      `target/nextest` under the workspace root even when
                                      CARGO_TARGET_DIR puts the build elsewhere (as CI does)
    nextest_junit.py summary FILE...  for the reports FILE... (a missing one counts as no
                                      test: a run that failed to build writes none): one
                                      line `FAILED <binary> <test>` per failed test, then
                                      the last line `<passed> <failed> <skipped>`

A test is failed when its <testcase> holds a <failure> or an <error> (a test that failed,
timed out, or crashed), skipped when it holds <skipped>, else passed (a flaky test that
passed on a retry included). Standard library only: runs with any python3.
"""

import json
import os
import sys
import xml.etree.ElementTree as ET


def path():
    root = json.load(sys.stdin)["workspace_root"]
    print(os.path.join(root, "target", "nextest", "ci", "junit.xml"))


def summary(files):
    passed = failed = skipped = 0
    for f in files:
        if not os.path.exists(f):
            continue
        for suite in ET.parse(f).getroot().iter("testsuite"):
            for case in suite.iter("testcase"):
                if case.find("failure") is not None or case.find("error") is not None:
                    failed += 1
                    print(f"FAILED {suite.get('name')} {case.get('name')}")
                elif case.find("skipped") is not None:
                    skipped += 1
                else:
                    passed += 1
    print(passed, failed, skipped)


if __name__ == "__main__":
    if sys.argv[1:2] == ["path"]:
        path()
    elif sys.argv[1:2] == ["summary"]:
        summary(sys.argv[2:])
    else:
        sys.exit(__doc__)

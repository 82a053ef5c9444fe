#!/usr/bin/env python3
"""scripts/check_layers.py: the tree's layers hold, and the check catches what it must."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "check_layers.py")


def run(root):
    p = subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout


class Layers(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def write(self, path, text):
        full = os.path.join(self.tmp, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)

    def test_the_tree_holds(self):
        rc, out = run(ROOT)
        self.assertEqual(rc, 0, out)
        self.assertIn("layers hold", out)

    def test_an_include_from_above_fails_with_file_and_line(self):
        self.write("config/rules.cpp", '#include "config/rules.hpp"\n#include "daemon/web/x.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("config/rules.cpp:2: layer config includes daemon/web/x.hpp of layer web", out)

    def test_includes_from_below_pass(self):
        self.write("daemon/web/a.cpp", '#include "daemon/exposition/b.hpp"\n#include "platform/net.hpp"\n')
        self.write("systemd/s.cpp", '#include "daemon/app.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 0, out)

    def test_the_platform_includes_nothing_above_it(self):
        self.write("platform/net.hpp", '#include "config/duration.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("layer platform includes config/duration.hpp", out)

    def test_only_entry_files_and_tests_include_the_simulator(self):
        self.write("daemon/runtime/scheduler.cpp", '#include "simulator/estate_simulator.hpp"\n')
        self.write("daemon/app.cpp", '#include "simulator/estate_simulator.hpp"\n')
        self.write("daemon/demo_estate.cpp", '#include "simulator/estate_simulator.hpp"\n')
        self.write("tests/unit/x_test.cpp", '#include "simulator/estate_simulator.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("daemon/runtime/scheduler.cpp:1: layer runtime includes simulator/", out)
        self.assertIn("daemon/app.cpp:1: layer app includes simulator/", out)
        self.assertNotIn("demo_estate.cpp", out)
        self.assertNotIn("x_test.cpp", out)

    def test_runtime_and_discovery_stand_side_by_side(self):
        self.write("daemon/discovery/ksc.cpp", '#include "daemon/runtime/scheduler.hpp"\n')
        self.write("daemon/runtime/table.cpp", '#include "daemon/discovery/ksc.hpp"\n')
        self.write("daemon/exposition/r.cpp", '#include "daemon/discovery/ksc.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("layer discovery includes daemon/runtime/scheduler.hpp", out)
        self.assertIn("layer runtime includes daemon/discovery/ksc.hpp", out)
        self.assertNotIn("daemon/exposition/r.cpp", out)

    def test_the_app_never_includes_the_edge(self):
        self.write("daemon/app.cpp", '#include "systemd/sd_notify.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("layer app includes systemd/sd_notify.hpp of layer edge", out)

    def test_a_file_in_no_layer_fails(self):
        self.write("newfolder/x.cpp", "\n")
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("newfolder/x.cpp: in no layer", out)

    def test_product_code_never_includes_tests(self):
        self.write("collectors/tcp.cpp", '#include "tests/support/http_client.hpp"\n')
        rc, out = run(self.tmp)
        self.assertEqual(rc, 1)
        self.assertIn("collectors/tcp.cpp:1: includes tests/support/http_client.hpp", out)


if __name__ == "__main__":
    unittest.main()

"""Log formats (docs/monitoring.md, "Logs"): JSON lines with the C++ runtime's fields."""

import json
import logging
import unittest

from brook.envelope import Message
from brook.lifecycle import Formatter, LogContext


def record(msg, level=logging.WARNING):
    return logging.LogRecord("brook", level, __file__, 1, msg, None, None)


class LogFormatTest(unittest.TestCase):
    def tearDown(self):
        LogContext.message = None

    def test_json_lines_name_the_instance(self):
        line = json.loads(Formatter("json", "wc.3", "wc").format(record('say "hi"\n')))
        self.assertEqual(list(line), ["time", "level", "instance", "node", "msg"])
        self.assertEqual(line["level"], "warn")
        self.assertEqual(line["instance"], "wc.3")
        self.assertEqual(line["node"], "wc")
        self.assertEqual(line["msg"], 'say "hi"\n')
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

    def test_lines_while_handling_name_the_message(self):
        LogContext.message = Message("src.0@ab", 7, "words", "t", None, 0, 1,
                                      bytes(range(16)), [], b"")
        line = json.loads(Formatter("json", "wc.0", "wc").format(record("x", logging.INFO)))
        self.assertEqual(line["channel"], "words")
        self.assertEqual(line["message_id"], "src.0@ab:7")
        self.assertEqual(line["trace_id"], bytes(range(16)).hex())
        self.assertEqual(line["level"], "info")

    def test_text_and_plain(self):
        self.assertEqual(Formatter("plain", "wc.0", "wc").format(record("x")), "WARN  x")
        self.assertTrue(Formatter("text", "wc.0", "wc").format(record("x")).endswith(
            " wc.0 WARN  x"))


if __name__ == "__main__":
    unittest.main()

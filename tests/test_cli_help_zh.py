"""`shaftgate --help` and argparse's errors in the dispatcher's language."""

import argparse

import pytest

from shaftgate import cli
from shaftgate.cli import helpzh
from shaftgate.langenv import lang_of_argv


def _every_help(parser):
    texts = [parser.description] if parser.description else []
    texts += [g.title for g in parser._action_groups if g.title]
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            texts.append(action.help)
        if isinstance(action, argparse._SubParsersAction):
            texts += [c.help for c in action._choices_actions if c.help]
            for sub in action.choices.values():
                texts += _every_help(sub)
    return texts


def _help(argv, capsys, monkeypatch, env_lang="C.UTF-8"):
    monkeypatch.setenv("LANG", env_lang)
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_every_help_text_of_every_command_has_its_chinese():
    missing = sorted({t for t in _every_help(cli.build_parser()) if helpzh.help_text(t) is None})
    assert missing == []


def test_a_help_text_without_chinese_is_found_missing():
    # The check above can fail: a command registered without a Chinese help is caught.
    assert helpzh.help_text("a help nobody translated") is None
    assert helpzh.help_text("only this class (repeatable): gas, log_full").endswith("gas, log_full")


def test_help_in_chinese_with_lang_zh(capsys, monkeypatch):
    code, out, _ = _help(["--lang", "zh", "recount", "--help"], capsys, monkeypatch)
    assert code == 0
    assert out.startswith("用法：shaftgate recount")
    assert "清点发现的区域内人数" in out
    assert "显示此帮助并退出" in out
    assert "the people the muster found inside" not in out


def test_help_in_chinese_from_the_locale_and_in_english_otherwise(capsys, monkeypatch):
    _, out, _ = _help(["seal", "--help"], capsys, monkeypatch, env_lang="zh_CN.UTF-8")
    assert "封闭区域：限员为零" in out
    _, out, _ = _help(["seal", "--help"], capsys, monkeypatch, env_lang="en_US.UTF-8")
    assert out.startswith("usage: shaftgate seal")
    assert "seal the zone: cap zero, every entry alarms (R-SEAL-1)" in out
    assert "封闭" not in out
    _, out, _ = _help(["--lang=en", "seal", "--help"], capsys, monkeypatch, env_lang="zh_CN.UTF-8")
    assert "usage: shaftgate seal" in out


def test_the_root_help_and_its_epilog_in_chinese(capsys, monkeypatch):
    _, out, _ = _help(["--help"], capsys, monkeypatch, env_lang="zh_CN.UTF-8")
    assert "退出码：" in out and "网关与文件:" in out
    assert "exit status:" not in out


def test_argparse_errors_in_chinese_then_english_again(capsys, monkeypatch):
    code, _, err = _help(["--lang", "zh", "recount"], capsys, monkeypatch)
    assert code == 2
    assert "shaftgate recount：错误：缺少以下参数：FOUND, --was, --counted-by" in err
    code, _, err = _help(["recount"], capsys, monkeypatch)
    assert code == 2
    assert "error: the following arguments are required: FOUND, --was, --counted-by" in err


def test_the_language_is_read_from_the_words_before_the_locale():
    zh = {"LANG": "zh_CN.UTF-8"}
    assert lang_of_argv(["status", "--lang", "en"], zh) == "en"
    assert lang_of_argv(["status", "--lang=zh"], {}) == "zh"
    assert lang_of_argv(["status"], zh) == "zh"
    assert lang_of_argv(["events", "--", "--lang", "zh"], {}) == "en"


@pytest.mark.parametrize("width", [20, 37, 56])
def test_chinese_help_wraps_by_terminal_columns(width):
    text = helpzh.HELP[
        "the count the gateway showed when they were counted (`shaftgate status`); "
        "refused if it has moved since: people crossed meanwhile"
    ]
    lines = helpzh.wrap(text, width)
    assert len(lines) > 1
    assert all(helpzh._columns(line) <= width for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    for word in ("`shaftgate", "status`"):  # Latin words whole, never cut in two
        assert any(word in line for line in lines)


@pytest.mark.parametrize("columns", [80, 100, 120])
def test_no_line_of_the_chinese_help_is_wider_than_the_terminal(columns, capsys, monkeypatch):
    _, out, _ = _help(["--lang", "zh", "recount", "--help"], capsys, monkeypatch)
    monkeypatch.setenv("COLUMNS", str(columns))
    with pytest.raises(SystemExit):
        cli.main(["--lang", "zh", "recount", "--help"])
    out = capsys.readouterr().out
    assert max(helpzh._columns(line) for line in out.splitlines()) <= columns, out

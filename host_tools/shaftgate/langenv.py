"""The operator's language from the command line or the locale, without the gateway's
tables that shaftgate.i18n loads: `shaftgate --help` needs it before anything else."""

import os


def lang_from_env(env=None):
    env = os.environ if env is None else env
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def lang_of_argv(argv, env=None):
    """`--lang X` or `--lang=X` anywhere in the words, else the locale's."""
    for i, word in enumerate(argv):
        if word == "--":
            break
        if word == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if word.startswith("--lang="):
            return word.split("=", 1)[1]
    return lang_from_env(env)

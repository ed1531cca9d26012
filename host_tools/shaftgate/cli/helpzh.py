"""`shaftgate --help` in Chinese: the dispatcher who reads Chinese gets every command's
help, every option's and argparse's own words (usage, errors) in Chinese.

Keyed by the English text the commands register, so a command's module stays the one
place its help is written; tests/test_cli_help_zh.py fails on any help text without its
Chinese here. Option names, values and file names stay as typed (--gateway, ID=PATH).
"""

import argparse
import gettext
import re
import unicodedata

EPILOG = """\
网关：
  --port PATH            此串口上的网关（网关编号取自其 hello）
  --gateway ID=PATH      此串口上的此网关；可重复，指定多个
  --gateway ID           $SHAFTGATE_HOME/gateways.toml 中登记的网关：
                           [gateways]
                           shaft-1 = "/dev/ttyACM0"
  --all                  gateways.toml 中的全部网关
  指定多个网关时逐个执行；一个失败不影响其余（撤人指令送达每个应答的区域）。

文件（在 $SHAFTGATE_HOME 下，默认 ~/.config/shaftgate）：
  keys/ID.key、keys/ID.counter、events/ID.jsonl、rosters/ID.json   （docs/keys.md）

退出码：
  0 完成   1 网关拒绝、事件日志不完整或本地文件失败
  2 参数、输入或密钥有误：未发送任何内容   3 网关无有效应答
"""

# Help texts built with a list after them: the English prefix, then its Chinese.
PREFIXES = {
    "only this class (repeatable): ": "只看此类报警（可重复）：",
}

HELP = {
    "Dispatch tools for shaftgate gateways at mine zone entrances.": (
        "shaftgate 调度工具：管理矿井区域入口的网关。"
    ),
    "gateways and files": "网关与文件",
    "serial port of the gateway": "网关的串口",
    "gateway by id (port from gateways.toml) or ID=PATH; repeatable": (
        "按编号指定网关（串口取自 gateways.toml）或 ID=PATH；可重复"
    ),
    "every gateway in gateways.toml": "gateways.toml 中的全部网关",
    "shaftgate home (default $SHAFTGATE_HOME or ~/.config/shaftgate)": (
        "shaftgate 主目录（默认 $SHAFTGATE_HOME 或 ~/.config/shaftgate）"
    ),
    "key directory (default HOME/keys)": "密钥目录（默认 HOME/keys）",
    "serve's socket (default $SHAFTGATE_SERVE, else HOME/serve.sock if it exists)": (
        "serve 的套接字（默认 $SHAFTGATE_SERVE，否则 HOME/serve.sock，如存在）"
    ),
    "open the ports even if serve runs (commissioning)": "即使 serve 在运行也直接打开串口（调试投运用）",
    "who gives an order through serve (default $SHAFTGATE_OPERATOR or your login)": (
        "经 serve 下达指令的人（默认 $SHAFTGATE_OPERATOR 或登录名）"
    ),
    "the reason recorded with an order": "随指令记录的原因",
    "zh or en (default: from LC_ALL/LANG, zh_* gives zh) 界面语言": (
        "界面语言 zh 或 en（默认取 LC_ALL/LANG，zh_* 为中文）"
    ),
    "wait this long for each reply (default 2)": "每个应答的等待秒数（默认 2）",
    "print the version and exit": "显示版本并退出",
    "the gateway's state: people, cap, interlocks, gas, video": (
        "网关状态：人数、限员、闭锁、气体、视频"
    ),
    "who is in the zone now (or --at a past time, from serve's record), with names": (
        "区域内现有人员及姓名（或用 --at 查 serve 记录中的某一历史时刻）"
    ),
    "set the gateway's wall clock": "设置网关时钟",
    "gateway settings": "网关设置",
    "the surface station: owns the gateway links, records, alarms, publishes (docs/serve.md)": (
        "地面站：管理网关链路、记录、报警与发布（docs/serve.md）"
    ),
    "the active alarms, from serve": "serve 中的当前报警",
    "serve's alarms": "serve 的报警",
    "through serve: record missing events as a gap and go on (after checking why, R-DATA-2)": (
        "经 serve：把缺失的事件记为缺口后继续（须先查明原因，R-DATA-2）"
    ),
    "every gateway live from serve: alarms on top (a: acknowledge), zones, latest events": (
        "从 serve 实时查看全部网关：报警置顶（a：确认）、各区域、最新事件"
    ),
    "reports from serve's record (R-CAP-10)": "依据 serve 记录的报表（R-CAP-10）",
    "the roster of people and tags (R-ID-1, R-ID-4)": "人员与定位卡名册（R-ID-1、R-ID-4）",
    "the order audit: who ordered what, why, and which gateways answered": (
        "指令审计：谁下达了什么指令、原因、哪些网关应答"
    ),
    "hot-work and key-work permits (R-HOT-1, R-VIDEO-2)": "动火作业与关键作业许可（R-HOT-1、R-VIDEO-2）",
    "one person's route from serve's record (R-ID-3): zones, times, working and dwell time": (
        "依据 serve 记录查某人的行动轨迹（R-ID-3）：区域、时间、作业与停留时长"
    ),
    "fetch new events into this host's record (acknowledged if a key is present) and show the latest": (
        "把新事件取入本机记录（有密钥时予以确认），并显示最新事件"
    ),
    "order everyone out of the zone (R-EVAC-1/2), or start a drill": (
        "下令区域内全部人员撤出（R-EVAC-1/2），或开始演练"
    ),
    "end the evacuation or drill in force": "结束正在进行的撤人或演练",
    "seal the zone: cap zero, every entry alarms (R-SEAL-1)": "封闭区域：限员为零，任何进入均报警（R-SEAL-1）",
    "lift the seal": "解除封闭",
    "a temporary, time-limited cap (R-CAP-9)": "临时限员，有时限（R-CAP-9）",
    "end the temporary cap in force now; the configured cap returns (R-CAP-9)": (
        "立即结束当前临时限员，恢复设定限员（R-CAP-9）"
    ),
    "set the count a physical count (muster) found: clears a said excess, or adds people found uncounted; never below those known by name (R-CAP-11)": (
        "按现场清点的人数校正计数：消除已报出的多计，或补计漏计的人员；不低于按姓名已知的人数（R-CAP-11）"
    ),
    "gateway keys (docs/keys.md)": "网关密钥（docs/keys.md）",
    "check the host's protocol stack over a pty pair, no board needed": (
        "通过一对 pty 检查本机协议栈，无需开发板"
    ),
    "the simulated mine: virtual gateways, a scripted shift and the live dispatch view": (
        "模拟矿井：虚拟网关、按脚本运行的一个班次和实时调度画面"
    ),
    "run N virtual gateway boards until Ctrl-C; prints their serial ports": (
        "运行 N 块虚拟网关板直到按 Ctrl-C；显示它们的串口"
    ),
    "compile the firmware, copy it to a Pico or ESP32 with mpremote, provision key and config": (
        "编译固件，用 mpremote 写入 Pico 或 ESP32，并配置密钥与设置"
    ),
    "print one JSON document": "输出一个 JSON 文档",
    "who was where at that time, from serve's record (e.g. 2026-12-04 03:00) 历史时刻": (
        "历史时刻：依据 serve 记录查该时刻谁在何处（如 2026-12-04 03:00）"
    ),
    "--at: also write the rows to FILE (Excel)": "--at：同时把各行写入 FILE（Excel）",
    "this host's clock": "本机时钟",
    "an ISO time, e.g. 2025-06-15T12:00:00+08:00": "ISO 时间，如 2025-06-15T12:00:00+08:00",
    "allow moving the gateway's clock back (more than 2 s): the record's times then run backwards, and the step is logged (R-DATA-2)": (
        "允许把网关时钟往回调（超过 2 秒）：记录中的时间随之倒流，且此次调整记入日志（R-DATA-2）"
    ),
    "show gateway settings": "显示网关设置",
    "change settings; all apply together or none does": "修改设置；全部生效或全部不生效",
    "the site file (docs/serve.md)": "站点文件（docs/serve.md）",
    "record and raise alarms but publish nothing over MQTT (commissioning, benches)": (
        "记录并报警，但不经 MQTT 发布（调试投运、台架）"
    ),
    "print the ready line as JSON": "以 JSON 输出就绪行",
    "shaftgate home": "shaftgate 主目录",
    "serve's socket": "serve 的套接字",
    "you, as the site file names you": "你在站点文件中的名字",
    "one JSON document": "一个 JSON 文档",
    "open and past alarms (default: the open ones only) 含历史报警": (
        "含历史报警：未结束与已结束的报警（默认只列未结束的）"
    ),
    "only this zone or gateway": "只看此区域或网关",
    "from this time: 2026-12-04 08:00, or 8h (ago)": "起始时间：2026-12-04 08:00，或 8h（前）",
    "up to this time": "截至此时间",
    "not cleared yet": "尚未解除",
    "open and nobody acknowledged them": "未结束且无人确认",
    "acknowledged": "已确认",
    "cleared": "已解除",
    "at most N (default 500)": "最多 N 条（默认 500）",
    "also write them to FILE (opens in Excel)": "同时写入 FILE（可用 Excel 打开）",
    "acknowledge a latched alarm after checking it (an order, stored with the reason)": (
        "核查后确认一条保持型报警（作为指令，连同说明一起保存）"
    ),
    "the alarm's key, as `shaftgate alarms` lists it": "报警的键，即 `shaftgate alarms` 列出的",
    "what you checked or did (stored with your name and the time) 处理说明": (
        "处理说明：你核查或处理了什么（连同你的名字和时间保存）"
    ),
    "the gateway whose record has a gap": "记录有缺口的网关",
    "what was checked (recorded with the order)": "核查了什么（随指令记录）",
    "start focused on this zone or gateway": "启动时聚焦此区域或网关",
    "latest events shown": "显示的最新事件条数",
    "do not ring for open alarms": "有未结束报警时不响铃",
    "the shift report (R-CAP-10): zones against caps, violations, evacuations, gas, trend; HTML and PDF": (
        "班次报表（R-CAP-10）：各区域人数对比限员、违规、撤人、气体、趋势；HTML 和 PDF"
    ),
    "the day the shift starts": "班次开始的日期",
    "1, 2, 3 (0点班, 8点班, 4点班) or 22:00-06:00": "1、2、3（0点班、8点班、4点班）或 22:00-06:00",
    "where to write (default .)": "输出目录（默认 .）",
    "the same shift on N days before": "前 N 天的同一班次",
    "HTML only": "只生成 HTML",
    "print the numbers as JSON too": "同时以 JSON 输出数字",
    "the roster serve loaded into each gateway, with names, roles and crews": (
        "serve 载入各网关的名册，含姓名、岗位和班组"
    ),
    "load the roster from a CSV file; every line is checked before anything is sent": (
        "从 CSV 文件载入名册；发送前逐行检查"
    ),
    "one gateway's roster (default: every one)": "某一网关的名册（默认：全部）",
    "also write it to FILE (opens in Excel)": "同时写入 FILE（可用 Excel 打开）",
    "columns: tag_id, person_id, name, role, cert_expiry, crew": (
        "列：tag_id、person_id、name、role、cert_expiry、crew"
    ),
    "the mine's UTC offset for certificate dates (default: the gateway's setting)": (
        "证书日期所用的矿井 UTC 时差（默认：网关的设置）"
    ),
    "every permit issued, with what became of it (revoked, ended): from serve's record": (
        "依据 serve 记录列出签发过的每张许可及其结果（撤销、到期）"
    ),
    "issue a permit to the gateway's permit book": "向网关的许可簿签发一张许可",
    "revoke a permit": "撤销一张许可",
    "the permits in the gateway's book": "网关许可簿中的许可",
    "one gateway's permits (default: all)": "某一网关的许可（默认：全部）",
    "default 30d (ago)": "默认 30d（前）",
    "also write the rows to FILE (opens in Excel)": "同时把各行写入 FILE（可用 Excel 打开）",
    "the safety technical measure's reference (R-HOT-1)": "安全技术措施的编号（R-HOT-1）",
    "start of the window (default now)": "时间窗开始（默认现在）",
    "end of the window, e.g. +4h": "时间窗结束，如 +4h",
    "person ids allowed to do the work": "准许作业的人员编号",
    "hot work needs one (R-HOT-2)": "动火作业必须有一名（R-HOT-2）",
    "welding, cutting (R-HOT-1)": "电焊、气割（R-HOT-1）",
    "key-part maintenance under video (R-VIDEO-2)": "视频监控下的关键部位检修（R-VIDEO-2）",
    "key data measurement under video (R-VIDEO-2)": "视频监控下的关键数据测定（R-VIDEO-2）",
    "a name, person id or tag id 姓名/编号": "姓名、人员编号或定位卡号",
    "default 24h (ago)": "默认 24h（前）",
    "default now": "默认现在",
    "from: 2026-12-04 08:00, or 8h (ago) (history)": "起始：2026-12-04 08:00，或 8h（前）（历史）",
    "up to (history)": "截至（历史）",
    "one zone or gateway (history)": "某一区域或网关（历史）",
    "ENTRY, GAS_OVER, 进入, 气体超限, ... (repeatable; history)": (
        "ENTRY、GAS_OVER、进入、气体超限……（可重复；历史）"
    ),
    "a name, person id or tag id (history)": "姓名、人员编号或定位卡号（历史）",
    "keep watching; new events as they come": "持续观察；新事件到达即显示",
    "show the last N events held (default 20)": "显示保存的最后 N 条事件（默认 20）",
    "do not acknowledge (the gateway keeps the events for the record-keeping host)": (
        "不确认（网关为负责记录的主机保留这些事件）"
    ),
    "carry on past missing events, recording the gap (only after checking why)": (
        "越过缺失的事件继续，并记录缺口（须先查明原因）"
    ),
    "--follow: check at least this often": "--follow：至少每隔此时间检查一次",
    "a team leader or the mine leader on duty whose order this is (R-EVAC-1); default: the dispatcher": (
        "下达此指令的班组长或带班矿领导（R-EVAC-1）；默认：调度员"
    ),
    "an evacuation drill (R-EVAC-3)": "撤人演练（R-EVAC-3）",
    "why: accident-signs, drill, fire, flood-warning, gas, other, power-or-ventilation, unspecified, or a code": (
        "原因：accident-signs（事故征兆）、drill（演练）、fire（火灾）、flood-warning（水害预警）、"
        "gas（瓦斯）、other（其他）、power-or-ventilation（停电或停风）、unspecified（未说明），或代码"
    ),
    "recorded with the command": "随指令记录",
    "the temporary cap; 0 closes the zone": "临时限员；0 为关闭区域",
    "+4h from the gateway's clock (at most +7d), or 2025-06-15T18:00": (
        "按网关时钟 +4h（最多 +7d），或 2025-06-15T18:00"
    ),
    "the approved rectification or job (R-CAP-9)": "已批准的整改或作业（R-CAP-9）",
    "set it even below the people inside now: they are over the cap at once (R-CAP-11)": (
        "即使低于现有人数也设定：区域立即超员（R-CAP-11）"
    ),
    "the people the muster found inside": "清点发现的区域内人数",
    "the count the gateway showed when they were counted (`shaftgate status`); refused if it has moved since: people crossed meanwhile": (
        "清点时网关显示的人数（`shaftgate status`）；此后计数有变（期间有人进出）则拒绝"
    ),
    "who counted the people in the zone: in the gateway's roster with a valid certificate (R-ID-4), recorded with the recount": "清点区域人数的人：须在网关名册中且持有效资格证（R-ID-4），随校正记录",
    "generate a new key for a gateway (32 random bytes, mode 0600)": (
        "为网关生成新密钥（32 个随机字节，权限 0600）"
    ),
    "rotate a gateway's key (docs/keys.md, Rotation): a new key, then --commit once provisioned": (
        "轮换网关密钥（docs/keys.md，Rotation）：先生成新密钥，写入网关后再 --commit"
    ),
    "step 3: the board holds the new key; put it in place of the old one": (
        "第 3 步：网关已有新密钥；用它替换旧密钥"
    ),
    "mine seconds per real second (default 60; 1 is real time, 200 the most the boards' clocks can follow)": (
        "每真实秒对应的矿井秒数（默认 60；1 为实时，200 为板子时钟能跟上的上限）"
    ),
    "stop after this many seconds (default: run until Ctrl-C)": "运行这么多秒后停止（默认：直到 Ctrl-C）",
    "stop once the scripted shift has played and dispatch has every event": (
        "脚本班次演完且调度收到全部事件后停止"
    ),
    "print plain text frames (the default when stdout is not a terminal)": (
        "输出纯文本画面（标准输出不是终端时的默认方式）"
    ),
    "gateways: the shaft, then faces of each kind in turn (default 5)": (
        "网关数：先井筒，再依次各类工作面（默认 5）"
    ),
    "the demo's folder: keys, boards, records (default ./run/demo)": (
        "演示目录：密钥、板子、记录（默认 ./run/demo）"
    ),
    "how many boards (1..32)": "板子数量（1..32）",
    "the run's shaftgate home: keys, gateways.toml, boards (default ./run)": (
        "本次运行的 shaftgate 主目录：密钥、gateways.toml、板子（默认 ./run）"
    ),
    "erase the boards' flash first": "先擦除板子的闪存",
    "print the boards as one JSON document": "以一个 JSON 文档输出各板子",
    "the board's serial port": "板子的串口",
    "pico or esp32": "pico 或 esp32",
    "the gateway's id": "网关编号",
    "the gateway's settings (JSON)": "网关设置（JSON）",
    "key directory": "密钥目录",
    "default: build/deploy-<board>": "默认：build/deploy-<board>",
    "build and print the plan only": "只构建并显示计划",
    "the board runs the frozen image (the ESP32's way): copy main.py and what the image lacks only": (
        "板子运行冻结固件映像（ESP32 的方式）：只复制 main.py 和映像中缺少的部分"
    ),
    "overwrite the board's config.cbor (bypasses the signed, logged config-set)": (
        "覆盖板子的 config.cbor（绕过签名并记录日志的 config-set）"
    ),
    "mpremote command": "mpremote 命令",
}

# argparse's own words (its gettext message ids, Python 3.11).
ARGPARSE = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示此帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少以下参数：%s",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效选项：%(value)r（可选 %(choices)s）",
    "invalid %(type)s value: %(value)r": "无效的 %(type)s 值：%(value)r",
    "expected one argument": "需要一个值",
    "expected at least one argument": "至少需要一个值",
    "expected at most one argument": "最多一个值",
    "ambiguous option: %(option)s could match %(matches)s": "选项不明确：%(option)s 可匹配 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "one of the arguments %s is required": "需要参数 %s 之一",
    "ignored explicit argument %r": "忽略了显式参数 %r",
}


def help_text(text):
    """The Chinese of one help text, or None if it has none."""
    if text in HELP:
        return HELP[text]
    if text in ARGPARSE:  # titles and -h's help, made when the parser was built
        return ARGPARSE[text]
    for en, zh in PREFIXES.items():
        if text.startswith(en):
            return zh + text[len(en) :]
    return None


def _argparse_zh(message):
    return ARGPARSE.get(message, message)


def use(lang):
    """argparse's own words in this language: argparse looks up its module global `_`
    (gettext) when it prints, and ships no Chinese catalogue."""
    argparse.__dict__["_"] = _argparse_zh if lang == "zh" else gettext.gettext


def _columns(text):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def wrap(text, width):
    """Lines of at most `width` terminal columns (a Chinese character takes two, which
    argparse's textwrap does not know): broken at spaces or between Chinese characters,
    a word of Latin letters kept whole."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        line, used = "", 0
        for token in re.findall(r" +|[\x21-\x7e]+|.", paragraph):
            cols = _columns(token)
            if used + cols > width and line.strip():
                lines.append(line.rstrip())
                line, used = "", 0
                if token.startswith(" "):
                    continue
            line += token
            used += cols
        lines.append(line.rstrip())
    return lines


class Formatter(argparse.RawDescriptionHelpFormatter):
    # Line breaks kept in descriptions and the epilog (as the English root parser's).
    def __init__(self, prog, **kw):
        super().__init__(prog, **kw)
        # argparse wraps the usage line by len(), and its Chinese prefix is three
        # characters six columns wide: that line would overrun the terminal by three.
        usage = ARGPARSE["usage: "]
        self._width -= _columns(usage) - len(usage)

    def _split_lines(self, text, width):
        return wrap(text, width)

    def _fill_text(self, text, width, indent):
        return "\n".join(indent + line for line in wrap(text, width - len(indent)))


def translate(parser):
    """Every help text of the parser and its subcommands, in Chinese where it has one;
    the English stays where it has none (tests/test_cli_help_zh.py keeps that empty)."""
    parser.formatter_class = Formatter
    if parser.epilog:
        parser.epilog = EPILOG
    if parser.description:
        parser.description = help_text(parser.description) or parser.description
    for group in parser._action_groups:
        if group.title:
            group.title = help_text(group.title) or group.title
    for action in parser._actions:
        if action.help and action.help is not argparse.SUPPRESS:
            action.help = help_text(action.help) or action.help
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                choice.help = help_text(choice.help) or choice.help
            for sub in action.choices.values():
                translate(sub)

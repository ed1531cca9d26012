# Properties of gatewire.messages over random input (CPython only: hypothesis). Whatever
# gatewire.cbor can decode, parse answers with a value or a ProtocolError, never anything
# else; every valid body round-trips; a spoiled spot, at any depth, is the one the error
# names.
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_messages import spots

from gatewire import cbor
from gatewire import messages as m
from gatewire.errors import E_BAD_ENVELOPE, E_BAD_FIELD, E_UNKNOWN_TYPE, ProtocolError

fuzz = settings(deadline=None, max_examples=400)
slow = settings(deadline=None, max_examples=150)

# What gatewire.cbor.loads returns: ints to the CBOR limits, floats, text, bytes, lists and
# maps keyed by int, text or bytes (small ints often, so keys hit the schemas).
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64 - 1),
    st.integers(-3, 300),
    st.floats(),
    st.text(max_size=40),
    st.binary(max_size=40),
)
_keys = st.one_of(
    st.integers(0, 24), st.integers(-(2**64), 2**64 - 1), st.text(max_size=6), st.binary(max_size=6)
)
decoded = st.recursive(
    _scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=6), st.dictionaries(_keys, kids, max_size=6)),
    max_leaves=30,
).map(lambda obj: cbor.loads(cbor.dumps(obj)))

REQUEST_NAMES = [c[1] for c in m.CATALOGUE if m.message_class(c[0]) == "request"]
ALL_CODES = [c[0] for c in m.CATALOGUE]


def parse_or_refuse(obj, expect, answers):
    try:
        return m.parse(obj, expect, answers=answers)
    except ProtocolError as e:
        assert e.code in (E_BAD_ENVELOPE, E_UNKNOWN_TYPE, E_BAD_FIELD), e.code
        assert isinstance(e.text, str) and e.text
        assert e.field is None or isinstance(e.field, str)
        return e


@fuzz
@given(
    decoded,
    st.sampled_from(["request", "reply", "event"]),
    st.sampled_from(REQUEST_NAMES),
)
def test_any_decoded_value_parses_or_is_refused(obj, expect, answers):
    parse_or_refuse(obj, expect, answers)


@fuzz
@given(
    st.sampled_from(ALL_CODES),
    st.integers(0, 2**32 - 1),
    st.dictionaries(st.integers(0, 20), decoded, max_size=12),
    st.sampled_from(REQUEST_NAMES),
)
def test_known_type_with_random_body_parses_or_names_a_field(code, req_id, body, answers):
    obj = cbor.loads(cbor.dumps({0: code, 1: req_id, 2: body}))
    result = parse_or_refuse(obj, m.message_class(code), answers)
    if isinstance(result, ProtocolError) and result.code == E_BAD_FIELD:
        assert result.field and result.text.startswith("field '%s': " % result.field)


# ---- valid values generated from the schemas themselves ----


def _clip_utf8(n):
    def clip(s):
        raw = s.encode("utf-8")[:n]
        return raw.decode("utf-8", "ignore")

    return clip


def _orders_hold(spec):
    def hold(body):
        for lo, hi, strict in spec[2]:
            if lo not in body or hi not in body:
                continue
            if body[lo] > body[hi] or (strict and body[lo] == body[hi]):
                return False
        return True

    return hold


def valid(spec):
    kind = spec[0]
    if kind == m.T_INT:
        return st.one_of(st.integers(spec[1], spec[2]), st.sampled_from((spec[1], spec[2])))
    if kind == m.T_BOOL:
        return st.booleans()
    if kind == m.T_STR:
        return (
            st.text(max_size=spec[2])
            .map(_clip_utf8(spec[2]))
            .filter(lambda s: len(s.encode("utf-8")) >= spec[1])
        )
    if kind == m.T_BYTES:
        return st.binary(min_size=spec[1], max_size=spec[2])
    if kind == m.T_ENUM:
        return st.sampled_from(spec[1])
    if kind == m.T_LIST:
        return st.lists(valid(spec[3]), min_size=spec[1], max_size=spec[2])
    if kind == m.T_TUPLE:
        return st.tuples(*[valid(s) for _, s in spec[1]]).map(list)
    if kind == m.T_MAP:
        required = {f[1]: valid(f[3]) for f in spec[1] if f[2]}
        optional = {f[1]: valid(f[3]) for f in spec[1] if not f[2]}
        return st.fixed_dictionaries(required, optional=optional).filter(_orders_hold(spec))
    if kind == m.T_DICT:
        return st.dictionaries(valid(spec[3]), valid(spec[4]), min_size=spec[1], max_size=spec[2])
    assert kind == m.T_EITHER
    return st.one_of([valid(s) for s in spec[1]])


@st.composite
def valid_messages(draw):
    # -> (envelope as the other end decodes it, expect, answers, body by name, spec)
    code = draw(st.sampled_from(ALL_CODES))
    name = m.name_of(code)
    cls = m.message_class(code)
    answers = None
    if code == m.OK:
        answers = draw(st.sampled_from(REQUEST_NAMES))
        spec = m.reply_spec(answers)
        fields = draw(valid(spec))
        env = m.reply(answers, draw(st.integers(1, 2**32 - 1)), **fields)
    elif code == m.ERROR:
        answers = "status"
        spec = m.body_spec(code)
        fields = draw(valid(spec))
        env = m.error_reply(draw(st.integers(0, 2**32 - 1)), **fields)
    elif code == m.EVENT:
        spec = m.body_spec(code)
        fields = draw(valid(spec))
        env = m.event(**fields)
    else:
        spec = m.body_spec(code)
        fields = draw(valid(spec))
        env = m.request(name, draw(st.integers(1, 2**32 - 1)), **fields)
    return cbor.loads(cbor.dumps(env)), cls, answers, fields, spec


@slow
@given(valid_messages())
def test_every_valid_body_round_trips(msg):
    env, expect, answers, fields, _ = msg
    code, req_id, body = m.parse(env, expect, answers=answers)
    assert (code, req_id) == (env[0], env[1])
    assert body == fields


def _orders(spec, out):
    kind = spec[0]
    if kind == m.T_MAP:
        out.extend([(lo, hi) for lo, hi, _ in spec[2]])
        for f in spec[1]:
            _orders(f[3], out)
    elif kind == m.T_LIST:
        _orders(spec[3], out)
    return out


ORDERS = []
for _code in ALL_CODES:
    _orders(m.body_spec(_code), ORDERS)
    if m.message_class(_code) == "request":
        _orders(m.reply_spec(_code), ORDERS)


def _named_by_order(path, field):
    # spoiling the lower field of an order with a valid value may trip the upper one
    return any(path.endswith(lo) and field == path[: -len(lo)] + hi for lo, hi in ORDERS)


@slow
@given(valid_messages(), st.data())
def test_a_spoiled_spot_is_the_one_named(msg, data):
    env, expect, answers, _, spec = msg
    places = list(spots(spec, env[2]))
    assume(places)
    put, path = data.draw(st.sampled_from(places))
    env[2] = put(data.draw(decoded))
    result = parse_or_refuse(env, expect, answers)
    if not isinstance(result, ProtocolError):
        return  # the junk happened to be valid there
    assert result.code == E_BAD_FIELD, result.text
    field = result.field
    assert (
        field == path
        or field[: len(path) + 1] in (path + "[", path + ".")
        or _named_by_order(path, field)
    ), (path, field, result.text)


@slow
@given(valid_messages(), st.data())
def test_a_missing_required_field_is_the_one_named(msg, data):
    env, expect, answers, _, spec = msg
    required = [f for f in spec[1] if f[2]]
    assume(required)
    f = data.draw(st.sampled_from(required))
    del env[2][f[0]]
    e = parse_or_refuse(env, expect, answers)
    assert isinstance(e, ProtocolError) and e.code == E_BAD_FIELD
    assert e.field == f[1] and "missing" in e.text

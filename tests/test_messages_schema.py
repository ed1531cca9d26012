# The compact tables in gatewire/messages.py are exactly the readable schema in
# tests/messages_schema.py: same numbers, words, specs, sharing and mutating set.
import messages_schema as src

from gatewire import messages as m


def test_tables_are_the_generated_ones():
    enc = src.Encoder()
    types = enc.types()
    assert types == m._T
    assert bytes(enc.blob) == m._S
    assert tuple(enc.nums) == m._N
    assert tuple(enc.words) == m._W
    assert enc.spec(src._ERROR) == m._ERROR
    assert enc.spec(src._TYPES[-1][3]) == m._EVENT
    assert tuple(m.MUTATING) == tuple(t[0] for t in src._TYPES if t[2])


def test_decoded_specs_equal_the_source_tuples():
    for code, name, mutating, body, reply in src._TYPES:
        assert m.body_spec(code) == body
        assert m.body_spec(name) == body
        if reply is None:
            assert m._reply_of(m._type_by_code(code)) == m._NO_REPLY
        else:
            assert m.reply_spec(code) == reply
        assert m.is_mutating(code) is mutating
    assert tuple((t[0], t[1], t[2], t[3][1]) for t in src._TYPES) == m.CATALOGUE


def test_shared_structures_stay_shared():
    # the docs renderer names a body by its structure's label when they share fields
    issue = m.body_spec("permit-issue")
    permit = m.reply_spec("permit-list")[1][1][3][3]
    assert permit[3] == "permit" and issue[3] == "body"
    assert issue[1] is permit[1]
    assert m.body_spec("event")[1] is m.reply_spec("events-since")[1][0][3][3][1]
    for code, _, _, fields in m.CATALOGUE:
        assert fields is m.body_spec(code)[1]
    # an edit to one message's fields must not reach another's through a shared tuple
    assert m.body_spec("seal")[1] == m.body_spec("unseal")[1]


def test_error_text_from_the_tables():
    # the validator's texts describe each field's spec as the source tuple does
    i = 0
    for _, _, _, body, reply in src._TYPES:
        offsets = [m._body_of(i)] + ([] if reply is None else [m._reply_of(i)])
        for o, spec in zip(offsets, [s for s in (body, reply) if s is not None], strict=True):
            p = m._off(o + 2) + 1
            for f in spec[1]:
                assert m._W[m._S[p + 1]] == f[1]
                assert m._describe(m._off(p + 3)) == m.describe(f[3])
                p += 5
        i += m._TYPE_SIZE

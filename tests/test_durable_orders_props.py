# The property behind test_durable_orders.py, with hypothesis choosing the order, who is
# inside, the flash operation the power is cut at, how many of its bytes land and what an
# interrupted append leaves: never an OK for an order a power cut then takes back.
from hypothesis import given
from hypothesis import strategies as st
from test_durable_orders import MAX_OPS, STAGES, cut_during


def _all_parts(parts):
    # cut_during runs in parts (tests/hostcalls.py): all of them at once here.
    while True:
        try:
            next(parts)
        except StopIteration as e:
            return e.value


@given(
    name=st.sampled_from(sorted(STAGES)),
    op=st.integers(0, MAX_OPS),
    part=st.integers(0, 64),
    fill=st.sampled_from([None, 0, 0xFF]),
    inside=st.lists(st.sampled_from([1, 3, 5]), max_size=3, unique=True),
)
def test_no_ok_for_an_order_a_power_cut_takes_back(name, op, part, fill, inside):
    ok, in_force = _all_parts(cut_during(name, op, part, fill, inside))
    assert in_force or not ok, (name, op, part, fill, inside)

# Field checks shared by the zone's rule modules (evacuation, hot work, permits,
# interlocks): a malformed field raises ProtocolError(E_BAD_FIELD) naming it, before
# the caller has changed anything.
from gatewire.errors import E_BAD_FIELD, ProtocolError


def bad_field(field, text):
    return ProtocolError(E_BAD_FIELD, "%s: %s" % (field, text), field)


def check_int(field, value, lo, hi):
    # type() rather than isinstance(): True and False are not counts or ids.
    if type(value) is not int or value < lo or value > hi:
        raise bad_field(field, "expected an integer %d..%d" % (lo, hi))
    return value

# R-ID-4 for the people an order names besides its authority: the leader who gives an
# all-clear (R-EVAC-1: also the one confirming a zone's state after a lost snapshot) or a
# recount, and whoever counted for a recount, must be in this gateway's roster with a
# certificate valid now. With the wall clock unset no certificate can be read as valid (as
# zone.REFUSE_CLOCK refuses an entry): refused too. Never asked of an evacuation
# (gateway/app.py Gateway._cmd_evacuate): withdrawing people is never refused for a
# certificate. Imported for such an order only (gateway/app.py _cmd_all_clear, commands.py
# recount); each call lets the module go as it starts (its caller holds it until it returns), so its
# code is out of a board's heap the rest of the time, refused or not.
from gateway import store
from gatewire.errors import E_REFUSED, ProtocolError


def leader(gw, by, what):
    # A leader's order: the authority to order people out (R-EVAC-1), then a certificate.
    gw._order_giver(by, what)
    check(gw, by, what, "by")


def check(gw, person, what, field):
    # Refuses `what` naming the person and the request field that named them.
    store.unload("certified")
    zone = gw.zone
    rs = zone.roster
    i = rs.find_person(person)
    if i < 0:
        raise ProtocolError(
            E_REFUSED,
            "%s refused: person %d (%s) is not in this gateway's roster (R-ID-4)"
            % (what, person, field),
            field,
        )
    now = zone._rel_s
    if now < 0:
        raise ProtocolError(
            E_REFUSED,
            "%s refused: the wall clock is not set: the certificate of person %d (%s) "
            "cannot be checked (R-ID-4)" % (what, person, field),
            field,
        )
    if not rs.cert_ok(i, now):
        raise ProtocolError(
            E_REFUSED,
            "%s refused: person %d (%s) has no valid certificate: expired or none on "
            "record (R-ID-4)" % (what, person, field),
            field,
        )

# R-CAP-11: what a recount (muster) order does to the zone's count, apart from the zone so
# that its code is in a board's heap only while an order is carried out
# (gateway/commands.py recount) or a RECOUNT replayed at boot (Gateway._replay), and let go
# after (store.unload). The order's checks are the command's; here only the count moves.


def apply(zone, before, after):
    # The count goes from before to after through those counted without a ledger row and
    # no tag kept (ledger.overflow beyond the remembered tags). Replayed onto a count other
    # than before, the higher of the two readings stands, and never fewer than the people
    # known by row or remembered tag: in doubt, in.
    ld = zone.ledger
    count = ld.count + after - before
    if count < after:
        count = after
    least = ld.n + zone.unnamed_n
    if count < least:
        count = least
    ld.overflow = count - ld.n
    zone._refresh()  # the level, the cap lamp and entry refusal follow the new count


def replay(zone, before, after):
    # A RECOUNT from the log (a=before, b=after): a damaged record's fields are not applied.
    if type(before) is int and type(after) is int and 0 <= before and 0 <= after <= 0xFFFF:
        apply(zone, before, after)

"""An order the gateway answered OK survives a power cut (issue 14; ARCHITECTURE.md
principle 3). For each order that changes what the zone is allowed to do, the host sends
it, and the moment the OK reply reaches the host the board's power is cut: the firmware
may still be in the middle of the step that answered. After power-on, every order that
was answered is in force.
"""

from gateway.permits import KEY_MAINTENANCE

from .hil_bench import face_config, morning_crew


def _permit(board, crew):
    return dict(
        permit_id=31,
        job_id=131,
        measure_ref="KM-31",
        start_s=board.now_s(),
        end_s=board.now_s() + 7200,
        workers=[crew[0].person_id],
        fire_watcher=0,
        flags=KEY_MAINTENANCE,
    )


def test_every_answered_order_survives_a_power_cut_right_after_its_reply(board, report):
    board.require("power")
    crew = morning_crew(4)
    face = board.gate(face_config("gw-orders", "coal_face"), crew)
    permit = _permit(board, crew)
    # (order, how the host sends it, whether status/permits show it in force)
    orders = (
        ("seal", lambda c: c.seal(), lambda s, p: s["sealed"]),
        ("unseal", lambda c: c.unseal(), lambda s, p: not s["sealed"]),
        ("evacuate", lambda c: c.evacuate(1), lambda s, p: s["evacuating"]),
        ("all-clear", lambda c: c.all_clear(), lambda s, p: not s["evacuating"]),
        (
            "cap-override 6",
            lambda c: c.cap_override(6, board.now_s() + 3600, "survey crew"),
            lambda s, p: s["override_active"] and s["cap"] == 6,
        ),
        ("permit 31", lambda c: c.permit_issue(**permit), lambda s, p: 31 in p),
        ("revoke 31", lambda c: c.permit_revoke(31), lambda s, p: 31 not in p),
    )
    for name, send, in_force in orders:
        send(face.client)
        face.power_cut()
        report.drive(face.name, "%s answered OK; power cut at once" % name)
        face.power_on()
        face.reconnect()
        status = face.client.status()
        permits = {p["permit_id"] for p in face.client.permit_list()["permits"]}
        report.expect(
            face.name, "after power-on: %s still in force" % name, in_force(status, permits)
        )

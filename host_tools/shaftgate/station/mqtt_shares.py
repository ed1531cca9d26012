"""serve's outbox published over several MQTT connections, each in a child process of its
own (mqtt_process.py) and each owning a fixed share of the gateways.

Why: paho costs about 80 us of CPU a message, so one connection (one process: one
interpreter lock) peaks near 10,500 messages/s, and ten busy links at ten times the wire
owe 21,700 a second, one message per event (issue 11, docs/serve.md).

Shares. The site's gateways sorted by id, the k-th goes to publisher (k + 1) % n, so
publisher 0, which also carries every message that is not an event, gets the fewest when
they do not divide evenly. A gateway's share is its two event topics (event/<gw>,
events/<gw>); every other topic (zone and link state, headcount, alarms: one topic each,
most of them retained) and the event topics of a gateway no longer in the site file are
publisher 0's. One topic, one publisher at a time, reading the outbox in row order: every
topic's messages go out in the order they were committed, which for a gateway's events is
the order of their seqs. Rows are not tagged with a publisher when written; a publisher
picks its rows by topic when it reads (outbox.read_batch), so a serve restarted with
another count, or another site file, publishes what the last one left, each row by its
one new owner, in order.

Client ids "<base>-p<i>", each with its own persistent session. Publisher 0 carries serve's
presence (shaftgate/<mine>/presence/<base>) and its will: its death really does cut the
platform off from the alarms and the mine-wide state, which is what "offline" says.
Another publisher's death only delays its gateways' events for the moment serve takes to
start it again (status says so meanwhile), and if that lasts past feed_late_s serve
raises "feed_late", which publisher 0 carries: the platform is told the truth in both cases
and not told serve is gone while it records and raises alarms.

One generation at a time. serve takes an exclusive lock on "<database>-publish.lock" and
every child holds the same open file, so after a kill -9 of serve the lock lasts until its
last child has ended (at once: mqtt_process.py), and a serve started meanwhile starts its
own publishers only then. Without it, a gateway moved to another share by a new count
could for a moment have two publishers, and its events two orders.
"""

import fcntl
import logging
import os
import threading

from shaftgate.station import topics
from shaftgate.station.mqtt_process import PublisherProcess

log = logging.getLogger("shaftgate.serve")
MOST = 16  # site.PUBLISHERS_MOST
# Three connections carry 31,000 messages/s on three free cores: ten links at 10x (21,700)
# with room. One core is left to the link threads, which record, ack and raise alarms.
DEFAULT_MOST = 3
LOCK_RETRY_S = 0.1


def cores():
    try:
        return len(os.sched_getaffinity(0))  # what this process may run on (cgroups, taskset)
    except AttributeError:
        return os.cpu_count() or 1


def default_count(n_cores=None):
    """Publishers when the site file does not say: one per core beyond the first, at most
    DEFAULT_MOST. docs/serve.md has the figures behind it."""
    n_cores = cores() if n_cores is None else n_cores
    return max(1, min(DEFAULT_MOST, n_cores - 1))


def shares(gateway_ids, count):
    """[[gateway ids of publisher i] for i in range(n)]: n is count, but never more than
    there are gateways (a publisher with no gateway would only hold a connection open)."""
    if not 1 <= count <= MOST:
        raise ValueError("publishers: %r, expected 1..%d" % (count, MOST))
    n = max(1, min(count, len(gateway_ids)))
    out = [[] for _ in range(n)]
    for k, gid in enumerate(sorted(gateway_ids)):
        out[(k + 1) % n].append(gid)
    return out


def share_topics(mine_id, gateway_ids):
    out = []
    for gid in gateway_ids:
        out += [topics.topic(mine_id, "event", gid), topics.topic(mine_id, "events", gid)]
    return out


def lock_path(db_path):
    return "%s-publish.lock" % db_path


class PublisherGroup:
    """PublisherProcess's start/stop/wake/status over n of them, one per share."""

    def __init__(self, db_path, broker, mine_id, base_id, gateway_ids, count):
        self.db_path = str(db_path)
        self.base_id = base_id
        self.shares = shares(list(gateway_ids), count)
        if len(self.shares) != count:
            log.info(
                "serve: %d MQTT publishers asked for, %d gateways: %d publishers",
                count,
                len(gateway_ids),
                len(self.shares),
            )
        self._share_of = {gid: i for i, share in enumerate(self.shares) for gid in share}
        n = len(self.shares)
        self._lock_fd = os.open(lock_path(self.db_path), os.O_RDWR | os.O_CREAT, 0o600)
        self.procs = []
        for i, share in enumerate(self.shares):
            others = [g for j, s in enumerate(self.shares) if j != i for g in s]
            self.procs.append(
                PublisherProcess(
                    db_path,
                    broker,
                    mine_id,
                    "%s-p%d" % (base_id, i),
                    # Publisher 0: everything but the others' event topics.
                    only_topics=share_topics(mine_id, share) if i else None,
                    skip_topics=share_topics(mine_id, others) if i == 0 else (),
                    presence=i == 0,
                    presence_id=base_id,
                    pass_fds=(self._lock_fd,),
                )
            )
        self.count = n
        self._waiting = None  # why the publishers have not started yet
        self._stopping = threading.Event()
        self._thread = None

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    @property
    def restarts(self):
        return sum(p.restarts for p in self.procs)

    def start(self):
        if self._thread is not None:
            raise RuntimeError("publishers already started")
        if self._lock_fd is None:
            raise RuntimeError("a stopped PublisherGroup is not started again: make another")
        self._stopping.clear()
        self._thread = threading.Thread(target=self._begin, name="mqtt-shares", daemon=True)
        self._thread.start()

    def _begin(self):
        fd = self._lock_fd
        if fd is None:  # stopped before it began
            return
        said = False
        while not self._stopping.is_set():
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                self._waiting = (
                    "waiting for an earlier serve's MQTT publishers to end (%s is locked)"
                    % lock_path(self.db_path)
                )
                if not said:
                    log.warning("serve: %s", self._waiting)
                    said = True
            self._stopping.wait(LOCK_RETRY_S)
        else:
            return
        self._waiting = None
        for p in self.procs:
            p.start()

    def stop(self, timeout_s=15.0):
        """Every publisher says goodbye and ends (at once, each in its own time); rows
        still owed stay in the outbox. Then the lock is let go."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        stoppers = [
            threading.Thread(target=p.stop, kwargs={"timeout_s": timeout_s}) for p in self.procs
        ]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # the children are gone: this was the last holder
            self._lock_fd = None

    def wake(self, gateway_id=None):
        """Rows were committed: for this gateway's events (and perhaps alarms and state,
        publisher 0's), or for anything (None)."""
        if gateway_id is None:
            for p in self.procs:
                p.wake()
            return
        i = self._share_of.get(gateway_id, 0)
        self.procs[i].wake()
        if i:
            self.procs[0].wake()

    def status(self):
        each = []
        for i, p in enumerate(self.procs):
            s = p.status()
            if self._waiting is not None:
                s["last_error"] = self._waiting
            s["gateways"] = list(self.shares[i])
            s["pid"] = p.pid
            each.append(s)
        down = [s["down_since"] for s in each if s.get("down_since") is not None]
        errors = ["%s: %s" % (s["client_id"], s["last_error"]) for s in each if s.get("last_error")]
        return {
            "broker": each[0]["broker"],
            "client_id": self.base_id,
            # All up, or the platform is missing some gateways' events.
            "connected": all(s.get("connected") for s in each),
            "published": sum(s.get("published", 0) for s in each),
            "connections": sum(s.get("connections", 0) for s in each),
            "last_error": "; ".join(errors) or None,
            "down_since": min(down) if down else None,  # the earliest: late since then
            "restarts": self.restarts,
            "publishers": each,
        }

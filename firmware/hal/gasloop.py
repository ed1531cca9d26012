# Gas transmitters on 4-20 mA current loops (docs/hardware.md): loop current in uA to
# ppm, with the NAMUR NE 43 failure bands as fault flags. Pure: runs in CPython tests too.
# A broken wire reads 0 mA, never "no gas": that is why the zero is at 4 mA.
try:
    from micropython import const
except ImportError:

    def const(__x):  # positional-only like micropython.const
        return __x


LOOP_FAULT_LOW_UA = const(3600)  # at or below: loop open, transmitter dead or failed
LOOP_ZERO_UA = const(4000)
LOOP_FULL_UA = const(20000)
LOOP_FAULT_HIGH_UA = const(21000)  # at or above: loop shorted or failure signalled

CH4_FULL_SCALE_PPM = const(40000)  # low-range catalytic methane head, 0-4.00 % CH4
CO_FULL_SCALE_PPM = const(1000)  # electrochemical CO head, 0-1000 ppm
FULL_SCALE_MAX_PPM = const(60000)

# Fault flags in read_gas's out[2]; 0 = both loops healthy.
FAULT_CH4_LOW = const(1)
FAULT_CH4_HIGH = const(2)
FAULT_CO_LOW = const(4)
FAULT_CO_HIGH = const(8)


def check_full_scale(name, ppm):
    # Up to 60 000 ppm, 16 000 uA x full scale stays a small int (no allocation per sample).
    if isinstance(ppm, bool) or not isinstance(ppm, int) or not 1 <= ppm <= FULL_SCALE_MAX_PPM:
        raise ValueError("%s must be an int in 1..60000 ppm, got %r" % (name, ppm))
    return ppm


def loop_ppm(ua, full_scale_ppm):
    # Under 4 mA reads 0 and over 20 mA reads full scale; the fault flags say whether
    # the loop itself can still be believed.
    if ua <= LOOP_ZERO_UA:
        return 0
    if ua >= LOOP_FULL_UA:
        return full_scale_ppm
    return (ua - LOOP_ZERO_UA) * full_scale_ppm // (LOOP_FULL_UA - LOOP_ZERO_UA)


def loop_fault(ua, low_flag, high_flag):
    if ua <= LOOP_FAULT_LOW_UA:
        return low_flag
    if ua >= LOOP_FAULT_HIGH_UA:
        return high_flag
    return 0


def fill_gas(out, ch4_ua, co_ua, ch4_full_scale_ppm, co_full_scale_ppm):
    out[0] = loop_ppm(ch4_ua, ch4_full_scale_ppm)
    out[1] = loop_ppm(co_ua, co_full_scale_ppm)
    out[2] = loop_fault(ch4_ua, FAULT_CH4_LOW, FAULT_CH4_HIGH) | loop_fault(
        co_ua, FAULT_CO_LOW, FAULT_CO_HIGH
    )

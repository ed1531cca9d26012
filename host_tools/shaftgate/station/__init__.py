"""The surface station: `shaftgate serve`, its site file, record, alarms and control socket."""

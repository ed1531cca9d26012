"""The links to the gateways: gatewire client, serial transport, keys and counters."""

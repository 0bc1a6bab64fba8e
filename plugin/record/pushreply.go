package record

import "bytes"

// pushReply expands an OpenVPN PUSH_REPLY option list, as in
//
//	route 192.168.10.0 255.255.255.0,route-gateway 10.8.0.1,topology subnet,
//	ping 10,ping-restart 60,ifconfig 10.8.0.6 255.255.255.0,peer-id 0,cipher AES-256-GCM
//
// into sshenrich fields: vpn_routes (network, netmask, gateway), route_gateway,
// pool_ip and pool_netmask (from ifconfig), pool_ipv6, topology, ping,
// ping_restart, peer_id, cipher, dns_servers and redirect_gateway.
func (w *writer) pushReply(opts []byte) {
	routes, dns := 0, 0
	for opt := range options(opts) {
		name, args := cutWord(opt)
		a1, rest := cutWord(args)
		a2, _ := cutWord(rest)
		switch string(name) {
		case "route":
			routes++
		case "dhcp-option":
			if string(a1) == "DNS" || string(a1) == "DNS6" {
				dns++
			}
		case "route-gateway":
			w.bytes("route_gateway", a1)
		case "topology":
			w.bytes("topology", a1)
		case "ping", "ping-restart", "peer-id":
			if n, ok := atoi(a1); ok {
				w.int(pushFieldNames[string(name)], n)
			}
		case "ifconfig":
			w.bytes("pool_ip", a1)
			if len(a2) > 0 {
				w.bytes("pool_netmask", a2)
			}
		case "ifconfig-ipv6":
			w.bytes("pool_ipv6", a1)
		case "cipher":
			w.bytes("cipher", a1)
		case "redirect-gateway":
			w.bytes("redirect_gateway", args)
		}
	}
	if routes > 0 {
		w.routes(opts)
	}
	if dns > 0 {
		w.key("dns_servers")
		w.scratch = w.scratch[:0]
		if !w.flat {
			w.enc.BeginArray()
		}
		for opt := range options(opts) {
			name, args := cutWord(opt)
			kind, addr := cutWord(args)
			if string(name) != "dhcp-option" || string(kind) != "DNS" && string(kind) != "DNS6" {
				continue
			}
			if w.flat {
				if len(w.scratch) > 0 {
					w.scratch = append(w.scratch, ',')
				}
				w.scratch = append(w.scratch, bytes.TrimSpace(addr)...)
			} else {
				w.value(bytes.TrimSpace(addr))
			}
		}
		if w.flat {
			w.value(w.scratch)
		} else {
			w.enc.EndArray()
		}
	}
}

var pushFieldNames = map[string]string{"ping": "ping", "ping-restart": "ping_restart", "peer-id": "peer_id"}

// routes writes the pushed routes: maps in ECS style, or
// "network/netmask[/gateway]" joined by commas when flat.
func (w *writer) routes(opts []byte) {
	w.key("vpn_routes")
	w.scratch = w.scratch[:0]
	if !w.flat {
		w.enc.BeginArray()
	}
	for opt := range options(opts) {
		name, args := cutWord(opt)
		if string(name) != "route" {
			continue
		}
		network, rest := cutWord(args)
		netmask, rest := cutWord(rest)
		gateway, _ := cutWord(rest)
		if w.flat {
			if len(w.scratch) > 0 {
				w.scratch = append(w.scratch, ',')
			}
			w.scratch = append(w.scratch, network...)
			for _, p := range [][]byte{netmask, gateway} {
				if len(p) > 0 {
					w.scratch = append(w.scratch, '/')
					w.scratch = append(w.scratch, p...)
				}
			}
			continue
		}
		w.enc.BeginMap()
		w.enc.Key("network")
		w.value(network)
		if len(netmask) > 0 {
			w.enc.Key("netmask")
			w.value(netmask)
		}
		if len(gateway) > 0 {
			w.enc.Key("gateway")
			w.value(gateway)
		}
		w.enc.EndMap()
	}
	if w.flat {
		w.value(w.scratch)
	} else {
		w.enc.EndArray()
	}
}

// options yields the comma-separated options of a PUSH_REPLY.
func options(b []byte) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			opt := b
			if i := bytes.IndexByte(b, ','); i >= 0 {
				opt, b = b[:i], b[i+1:]
			} else {
				b = nil
			}
			opt = bytes.TrimSpace(opt)
			if len(opt) > 0 && !yield(opt) {
				return
			}
		}
	}
}

func cutWord(b []byte) (word, rest []byte) {
	b = bytes.TrimLeft(b, " ")
	i := bytes.IndexByte(b, ' ')
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i+1:]
}

package testenv

import (
	"fmt"
	"net"
	"sync"
)

// reserved holds the ports handed to clusters of this process that are still
// running, so two clusters started side by side never get the same port.
var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// freePorts returns n distinct loopback ports that were free a moment ago:
// it listens on 127.0.0.1:0 until it holds n new ones, then closes them.
// Another process may still take one before the component binds it; the
// caller retries the start on fresh ports when that happens.
func freePorts(n int) ([]int, error) {
	reserved.Lock()
	defer reserved.Unlock()
	var (
		ports []int
		held  []net.Listener
	)
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(ports) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("picking a free port: %w", err)
		}
		held = append(held, l)
		addr, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			return nil, fmt.Errorf("picking a free port: listener address %v is not TCP", l.Addr())
		}
		port := addr.Port
		if !reserved.ports[port] {
			ports = append(ports, port)
		}
	}
	for _, p := range ports {
		reserved.ports[p] = true
	}
	return ports, nil
}

// releasePorts makes ports available to freePorts again.
func releasePorts(ports []int) {
	reserved.Lock()
	defer reserved.Unlock()
	for _, p := range ports {
		delete(reserved.ports, p)
	}
}

package webhook

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// MaxURLLength bounds a webhook URL.
const MaxURLLength = 2048

// Rule says which webhook URLs are accepted and which addresses a delivery
// may connect to. In AWS (the zero Rule) a URL must be https and every
// address it resolves to public. The local stack sets AllowLoopbackHTTP
// (WEBHOOK_ALLOW_LOOPBACK_HTTP=true, read by pkg/wiring) so that a receiver
// on this machine can be tested: http, and only to a loopback address.
type Rule struct {
	AllowLoopbackHTTP bool
}

// ErrURL is wrapped by every refusal of a URL.
var ErrURL = errors.New("webhook URL refused")

// Check refuses a URL the gateway must not deliver to, with a sentence a
// client can act on. A host name is checked again, on every connection, by
// the address it resolves to (Control), since DNS can change after this.
func (r Rule) Check(raw string) error {
	if raw == "" || len(raw) > MaxURLLength {
		return fmt.Errorf("%w: url must be 1 to %d characters", ErrURL, MaxURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%w: url must be an absolute URL such as https://hooks.example.com/aistats", ErrURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: url must not carry a user name or password", ErrURL)
	}
	if u.Fragment != "" {
		return fmt.Errorf("%w: url must not have a #fragment", ErrURL)
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !r.AllowLoopbackHTTP || !isLoopbackHost(host) {
			return fmt.Errorf("%w: url must use https", ErrURL)
		}
	default:
		return fmt.Errorf("%w: url must use https", ErrURL)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if err := r.allowed(addr); err != nil {
			return err
		}
	} else if isLoopbackHost(host) && !r.AllowLoopbackHTTP {
		return fmt.Errorf("%w: url must name a public host", ErrURL)
	}
	return nil
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.IsLoopback()
}

// cgnat is 100.64.0.0/10, shared address space that is not public.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// allowed refuses an address that is not public: link-local (the instance
// metadata service, 169.254.169.254, and fe80::/10), private (fd00:ec2::254
// is the metadata service over IPv6), loopback (the Lambda runtime API
// listens there) unless AllowLoopbackHTTP, unspecified, multicast and
// shared address space.
func (r Rule) allowed(addr netip.Addr) error {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		if r.AllowLoopbackHTTP {
			return nil
		}
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast(), addr.IsPrivate(), addr.IsUnspecified(),
		addr.IsMulticast(), addr.IsInterfaceLocalMulticast(), cgnat.Contains(addr):
	default:
		return nil
	}
	return fmt.Errorf("%w: %s is not a public address", ErrURL, addr)
}

// Control is a net.Dialer Control function that refuses a connection to
// any address Check would refuse, so DNS that resolves a public name to an
// internal address gets nowhere.
func (r Rule) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrURL, err)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: %s is not an address", ErrURL, host)
	}
	return r.allowed(addr)
}

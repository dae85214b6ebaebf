package storage

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// stubTransport records the requests it is given and answers 200.
type stubTransport struct{ got []string }

func (s *stubTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s.got = append(s.got, req.URL.String())
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

func TestSchemePolicy(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		wantOK    bool
	}{
		{"http://127.0.0.1:5000/v2/", false, true},
		{"http://127.0.0.1/v2/", false, true},
		{"http://127.1.2.3:5000/v2/", false, true},
		{"http://localhost:5000/v2/", false, true},
		{"http://localhost/v2/", false, true},
		{"http://[::1]:5000/v2/", false, true},
		{"http://10.0.0.1:5000/v2/", false, false},
		{"http://192.168.1.10/v2/", false, false},
		{"http://example.local:5000/v2/", false, false},
		{"http://registry.example.com/v2/", false, false},
		{"http://localhost.example.com/v2/", false, false},
		{"http://127.0.0.1.nip.io/v2/", false, false},
		{"http://[::ffff:10.0.0.1]/v2/", false, false},
		{"http://10.0.0.1:5000/v2/", true, true},
		{"http://example.local:5000/v2/", true, true},
		{"https://10.0.0.1:5000/v2/", false, true},
		{"https://registry.example.com/v2/", false, true},
		{"https://example.local/v2/", false, true},
	}
	for _, tt := range tests {
		name := tt.url
		if tt.allowHTTP {
			name += " with --tls-verify=false"
		}
		t.Run(name, func(t *testing.T) {
			next := &stubTransport{}
			p := &schemePolicy{next: next, allowHTTP: tt.allowHTTP}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.RoundTrip(req)
			if tt.wantOK {
				if err != nil || resp == nil || resp.StatusCode != http.StatusOK {
					t.Fatalf("RoundTrip(%q) = %v, %v, want the next transport's 200", tt.url, resp, err)
				}
				resp.Body.Close()
				if len(next.got) != 1 || next.got[0] != tt.url {
					t.Errorf("RoundTrip(%q) passed %q to the next transport, want [%q]", tt.url, next.got, tt.url)
				}
				return
			}
			if resp != nil {
				resp.Body.Close()
			}
			if !errors.Is(err, ErrInsecureRegistry) {
				t.Errorf("RoundTrip(%q) error = %v, want %v", tt.url, err, ErrInsecureRegistry)
			}
			if err != nil && (!strings.Contains(err.Error(), req.URL.Host) || !strings.Contains(err.Error(), "--tls-verify=false")) {
				t.Errorf("RoundTrip(%q) error = %q, want it to name %s and --tls-verify=false", tt.url, err, req.URL.Host)
			}
			if len(next.got) != 0 {
				t.Errorf("RoundTrip(%q) passed %q to the next transport, want nothing sent", tt.url, next.got)
			}
		})
	}
}

func TestNewTransport(t *testing.T) {
	for _, insecure := range []bool{false, true} {
		rt := newTransport(insecure)
		p, ok := rt.(*schemePolicy)
		if !ok {
			t.Fatalf("newTransport(%v) = %T, want *schemePolicy", insecure, rt)
		}
		if p.allowHTTP != insecure {
			t.Errorf("newTransport(%v).allowHTTP = %v, want %v", insecure, p.allowHTTP, insecure)
		}
		ht, ok := p.next.(*http.Transport)
		if !ok {
			t.Fatalf("newTransport(%v).next = %T, want *http.Transport", insecure, p.next)
		}
		skip := ht.TLSClientConfig != nil && ht.TLSClientConfig.InsecureSkipVerify
		if skip != insecure {
			t.Errorf("newTransport(%v) skips TLS verification = %v, want %v", insecure, skip, insecure)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"127.0.0.1", true},
		{"127.255.255.254", true},
		{"::1", true},
		{"0.0.0.0", false},
		{"::", false},
		{"10.0.0.1", false},
		{"LOCALHOST.example", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := isLoopback(tt.host); got != tt.want {
			t.Errorf("isLoopback(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

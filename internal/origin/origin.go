// Package origin judges the Origin header of browser requests against
// host patterns, the way github.com/coder/websocket's AcceptOptions
// OriginPatterns do, so that the REST and WebSocket handlers share one rule
// and the WebSocket handler can refuse a foreign origin itself, in JSON,
// before websocket.Accept would refuse it in plain text.
package origin

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
)

// Match reports whether origin, an Origin header value, matches one of
// patterns: path.Match patterns compared case-insensitively with the
// origin's host ("app.example.com", "*.example.com"), or with its
// scheme://host when the pattern contains "://". A malformed pattern is an
// error; origin "null" or one without a host matches nothing.
func Match(origin string, patterns []string) (bool, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false, nil
	}
	for _, p := range patterns {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		ok, err := path.Match(strings.ToLower(p), strings.ToLower(target))
		if err != nil {
			return false, fmt.Errorf("origin pattern %q: %w", p, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// Check is websocket.Accept's origin rule: a request without Origin (not
// from a browser) passes, as does one whose Origin host equals the
// request's Host or matches one of patterns. It returns an error saying why
// it refuses r.
func Check(r *http.Request, patterns []string) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil {
		return fmt.Errorf("origin %q is not a URL", o)
	}
	if strings.EqualFold(r.Host, u.Host) {
		return nil
	}
	ok, err := Match(o, patterns)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("origin %q may not use this server", o)
	}
	return nil
}

// Validate returns an error for the first malformed pattern.
func Validate(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(strings.ToLower(p), ""); err != nil {
			return fmt.Errorf("origin pattern %q: %w", p, err)
		}
	}
	return nil
}

package engine

// startHealthchecks runs the container's healthcheck on its interval until
// the returned function is called.
func (m *monitor) startHealthchecks() (stop func()) {
	if m.c.Health == nil {
		return func() {}
	}
	return func() {}
}

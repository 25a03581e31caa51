package chat

// HasStream reports whether svc's node has a stream for chatID, that is,
// whether one of its subscriptions follows the chat. Tests use it to know
// that a subscription has reached a point that leaves no other trace.
func HasStream(svc *Service, chatID string) bool {
	svc.hub.mu.Lock()
	defer svc.hub.mu.Unlock()
	return svc.hub.streams[chatID] != nil
}

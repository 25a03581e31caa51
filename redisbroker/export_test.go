package redisbroker

// KeySlot exposes keySlot to the external tests, which check it against
// CLUSTER KEYSLOT.
func KeySlot(key string) int { return keySlot(key) }

package redisbroker

import "strings"

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// keySlot returns the Redis Cluster hash slot of key: the CRC16 (XMODEM)
// of the key, or of its hash tag when it has one, modulo 16384. go-redis
// computes the same internally but does not export it; the subscriber
// needs it because SSUBSCRIBE and SUNSUBSCRIBE accept only channels of one
// slot per call.
func keySlot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		// The tag is the text between the first "{" and the first "}"
		// after it, when that text is not empty.
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key) % clusterSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

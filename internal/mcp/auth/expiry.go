package auth

import "time"

// JWTExpiry is the exp claim of a JWT, read without verifying it, for callers that may
// only use it to end something sooner (the web UI's session never outlives its token).
func JWTExpiry(token string) (time.Time, bool) { return jwtExpiry(token) }

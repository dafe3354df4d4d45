package catalog

// For returns the quota of a requester: their user entry if there is one, else the most
// generous of their groups' entries (per field, zero being unlimited), else the default.
func (l Limits) For(user string, groups []string) Quota {
	for _, u := range l.Users {
		if u.Name == user {
			return u.Quota
		}
	}
	var q Quota
	matched := false
	for _, g := range l.Groups {
		for _, name := range groups {
			if g.Name != name {
				continue
			}
			if !matched {
				q, matched = g.Quota, true
				continue
			}
			q.QueriesPerHour = generous(q.QueriesPerHour, g.QueriesPerHour)
			q.TokensPerDay = generous(q.TokensPerDay, g.TokensPerDay)
		}
	}
	if matched {
		return q
	}
	return l.Default
}

// generous picks the larger limit, zero (unlimited) beating any number.
func generous(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	return max(a, b)
}

package rules

// SessionRole is the part a line plays in the life of a session (an SSH
// connection, an OpenVPN client instance), as its entry's "session:" key
// declares. The correlation engine reads it to open, join and close
// sessions; which entries play which part is catalog data, not code.
type SessionRole uint8

// Session roles, in the order they usually occur.
const (
	SessionNone    SessionRole = iota // the line only belongs to a session it names
	SessionConnect                    // a new connection: starts a new session for its key
	SessionAuth                       // the server's decision on one authentication attempt
	SessionOpen                       // a login session opened for a user (PAM, OpenVPN's peer initiated)
	SessionClose                      // that login session closed
	SessionEnd                        // the connection ended: the session's last lines
)

var sessionRoleNames = [...]string{"", "connect", "auth", "open", "close", "end"}

func (r SessionRole) String() string {
	if int(r) < len(sessionRoleNames) {
		return sessionRoleNames[r]
	}
	return "unknown"
}

func parseSessionRole(s string) (SessionRole, bool) {
	for i, n := range sessionRoleNames {
		if i > 0 && n == s {
			return SessionRole(i), true
		}
	}
	return SessionNone, false
}

package controller

// SessionReady is sessionReady, for the table test of a session's Ready condition.
var SessionReady = sessionReady

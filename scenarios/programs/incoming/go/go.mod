module incomingserver

go 1.16

module vault-autopilot/test/cluster/pause

go 1.22

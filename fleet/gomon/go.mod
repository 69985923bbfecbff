module evcharging/fleet/gomon

go 1.19

"""ping, version, info and df answer with the keys clients read."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "support"))
import cf  # noqa: E402


def scenario(dc, cl):
    cf.check(dc.ping(), "ping")
    v = dc.version()
    for key in ["Version", "ApiVersion", "MinAPIVersion", "Os", "Arch", "KernelVersion"]:
        cf.check(key in v, f"version lacks {key}: {sorted(v)}")
    cf.expect_eq(v["Os"], "linux", "Os")
    major, minor = (int(x) for x in v["ApiVersion"].split("."))
    cf.check((major, minor) >= (1, 41), f"ApiVersion {v['ApiVersion']}")
    info = dc.info()
    for key in ["ID", "Containers", "ContainersRunning", "Images", "ServerVersion", "OperatingSystem",
                "OSType", "Architecture", "NCPU", "MemTotal", "Name", "Driver"]:
        cf.check(key in info, f"info lacks {key}: {sorted(info)}")
    cf.expect_eq(info["OSType"], "linux", "OSType")
    cf.check(info["NCPU"] > 0 and info["MemTotal"] > 0, "NCPU / MemTotal")
    df = dc.df()
    for key in ["LayersSize", "Images", "Containers", "Volumes"]:
        cf.check(key in df, f"df lacks {key}: {sorted(df)}")
    cf.check(isinstance(df["Images"], list) and isinstance(df["Containers"], list), "df lists")


cf.run(scenario)

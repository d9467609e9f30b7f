mkdir o; printf '#!/bin/bash\n# troika ecflow_name=/a\n# troika ecflow_pass=p\n' > o/job.sh.orig

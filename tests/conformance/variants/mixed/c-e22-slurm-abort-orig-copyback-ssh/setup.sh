printf '#!/bin/bash\n# troika ecflow_name=/a\n# troika ecflow_pass=p\n' > fake/orig

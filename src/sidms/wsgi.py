"""The WSGI entry point served by granian (`sidms serve`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sidms.settings")
application = get_wsgi_application()

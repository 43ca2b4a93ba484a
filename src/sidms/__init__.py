"""sidms: the social-insurance business data management system of Weihai."""

"""Demo relying-party portals and mail catcher for the idp provider."""

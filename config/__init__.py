from config.settings import Settings, get_settings, use_settings

__all__ = ["Settings", "get_settings", "use_settings"]

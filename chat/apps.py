from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        # Registers the built-in tools, then yours (chat/custom_tools.py): adding a
        # tool is one decorated function, with no list to update.
        from chat import custom_tools, tools  # noqa: F401
        from chat.agent import check_tool_settings

        check_tool_settings()

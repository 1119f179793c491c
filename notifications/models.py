"""Chasing and delivery: escalation policies, notifications (one row per send), the sweep's heartbeat."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from reporting.models import Contact, Incident, Obligation


class Anchor(models.TextChoices):
    VERBAL_DUE = "verbal_due", _("口头报截止")
    WRITTEN_DUE = "written_due", _("书面报截止")


class Audience(models.TextChoices):
    """Who a step goes to; resolved against the duty roster at the moment of sending."""

    DUTY_OFFICER = "duty_officer", _("值班员")
    SHIFT_LEADER = "shift_leader", _("值班长")
    LEADER_ON_SHIFT = "leader_on_shift", _("带班领导")
    UNIT_HEAD = "unit_head", _("单位负责人")
    DUTY_ROOM = "duty_room", _("区总值班室值班人员")


class NotificationChannel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")
    VOICE = "voice", _("语音")


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENT = "sent", _("已发送")
    DELIVERED = "delivered", _("已送达")
    UNDELIVERED = "undelivered", _("未送达")
    FAILED = "failed", _("失败")
    ACKNOWLEDGED = "acknowledged", _("已确认")
    # The deadline was discharged before this row was handed to a provider (SPEC: filing stops every pending step).
    CANCELLED = "cancelled", _("已取消")


class EscalationPolicy(models.Model):
    """An ordered ladder of steps. The active one is frozen onto each obligation when it is created."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    active = models.BooleanField(_("当前使用"), default=False)
    repeat_every_minutes = models.PositiveIntegerField(_("超时重复间隔(分钟)"), default=15)
    repeat_max = models.PositiveIntegerField(_("最多重复次数"), default=4)

    class Meta:
        verbose_name = _("催报规则")
        verbose_name_plural = _("催报规则")
        constraints = [
            # One policy is in force at a time.
            models.UniqueConstraint(fields=["active"], condition=Q(active=True), name="one_active_escalation_policy"),
        ]

    def __str__(self) -> str:
        return self.name


class EscalationStep(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveIntegerField(_("顺序"))
    key = models.SlugField(_("步骤"), max_length=40)
    anchor = models.CharField(_("基准"), max_length=20, choices=Anchor.choices)
    offset_minutes = models.IntegerField(_("偏移(分钟, 负数为提前)"))
    audience = models.JSONField(_("对象"), default=list)
    channels = models.JSONField(_("渠道"), default=list)
    board_alarm = models.BooleanField(_("大屏告警"), default=False)
    # Overdue steps repeat while the deadline stays overdue (SPEC: every 15 min, at most 4 times), by SMS only;
    # the interval and count are the policy's.
    repeats = models.BooleanField(_("超时重复"), default=False)
    repeat_channels = models.JSONField(_("重复渠道"), default=list, blank=True)

    class Meta:
        ordering = ["policy", "order"]
        verbose_name = _("催报步骤")
        verbose_name_plural = _("催报步骤")
        constraints = [
            models.UniqueConstraint(fields=["policy", "key"], name="escalation_step_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} #{self.order} {self.key}"


class Notification(models.Model):
    """One message to one recipient on one channel. Saved before the provider is called."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="notifications")
    obligation = models.ForeignKey(
        Obligation, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    step = models.CharField(_("步骤"), max_length=40)
    repeat = models.PositiveIntegerField(_("重复次数"), default=0)
    channel = models.CharField(_("渠道"), max_length=10, choices=NotificationChannel.choices)
    recipient = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    to = models.CharField(_("发送至"), max_length=254)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(
        _("状态"), max_length=20, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    scheduled_for = models.DateTimeField(_("计划时间"))
    # Fencing token: the id of the task that may send it; a stale task finds another token and does nothing.
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When the sweep last re-enqueued a pending row whose send task may have been lost (at most once a minute).
    redriven_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    fallback_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="fallbacks")
    # The person this message asks its recipient to reach: set only on an event rule's fallback to someone else (the
    # duty room asked to phone a district leader whose SMS failed), NULL on every other row. Part of exactly once,
    # so the duty room is asked once per unreached leader, not once per step.
    about = models.ForeignKey(
        Contact, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("需联系的人")
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        verbose_name = _("通知")
        verbose_name_plural = _("通知")
        constraints = [
            # Exactly once (SPEC): one notification per (obligation or incident, step, repeat, recipient, channel),
            # and per person the recipient is asked to reach (``about``, NULL but on an event rule's fallback).
            # NULLS NOT DISTINCT so incident-level events (no obligation) and rows about nobody are covered too.
            models.UniqueConstraint(
                fields=["incident", "obligation", "step", "repeat", "recipient", "channel", "about"],
                name="notification_exactly_once",
                nulls_distinct=False,
            ),
        ]
        indexes = [
            # The dispatcher's re-drive: pending rows whose send task may have been lost.
            models.Index(fields=["scheduled_for"], name="notification_pending_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.step}#{self.repeat} {self.channel} -> {self.to}"


class EarlyStatusCallback(models.Model):
    """A provider status callback that came before its message's provider id was recorded. The provider may call
    back while the worker is still sending the rest of its part (outcomes are written per part, after the calls):
    the callback is kept here and applied, then deleted, when the worker records the id
    (``notifications.callbacks.early_statuses_apply``). Only statuses that change something after ``sent`` are kept
    (delivered, undelivered, failed); one never claimed is deleted after ``EARLY_STATUS_KEPT_DAYS``."""

    provider_id = models.CharField(max_length=64, db_index=True)
    provider_status = models.CharField(max_length=20)
    error_code = models.CharField(max_length=32, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider_id} {self.provider_status}"


class ProviderRequestSeen(models.Model):
    """A provider request acted on once: an inbound reply (MessageSid) or a key pressed in a call (CallSid). Twilio's
    signature has no timestamp, so a captured signed request could be posted again later and acknowledge a newer
    message to that phone; and Twilio retries a request it got no answer to. Kept in the database, in the same
    transaction as the acknowledgement it allowed: a reply is taken whether or not Redis answers, and a failed
    acknowledgement does not leave its reply marked as seen. Rows older than ``webhooks.SEEN_KEPT_DAYS`` go."""

    provider_id = models.CharField(max_length=64, unique=True)
    seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.provider_id


class SweepHeartbeat(models.Model):
    """The sweep's last run; /healthz reports its age and the board turns red after 2 minutes."""

    name = models.CharField(max_length=40, unique=True)
    beat_at = models.DateTimeField()
    claimed = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name} {self.beat_at:%H:%M:%S}"


class ChasePlan(Obligation):
    """An obligation seen from the chasing side: its frozen plan and a preview of every step with times (admin)."""

    class Meta:
        proxy = True
        verbose_name = _("催报计划")
        verbose_name_plural = _("催报计划")


class RosterReminder(models.Model):
    """A unit told, once a day, that its duty roster leaves a 双人在岗 gap in the next 24 hours
    (``notifications.roster_reminders``). The row is written before the email is sent; the unique (unit, day) keeps
    it to one a day whatever beat or a second worker does."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("失败")
        NO_RECIPIENT = "no_recipient", _("无邮箱可发")

    unit = models.ForeignKey("reporting.Unit", on_delete=models.PROTECT, related_name="roster_reminders")
    day = models.DateField(_("日期 (上海)"))
    gaps = models.JSONField(_("缺岗时段"), default=list)
    gap_seconds = models.PositiveIntegerField(_("缺岗总时长(秒)"))
    recipients = models.JSONField(_("收件人"), default=list)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(_("错误"), blank=True)
    created_at = models.DateTimeField(_("生成时间"))
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("值班表缺岗提醒")
        verbose_name_plural = _("值班表缺岗提醒")
        constraints = [
            # Exactly one reminder per unit and Shanghai day: a re-run of the daily job adds nothing.
            models.UniqueConstraint(fields=["unit", "day"], name="roster_reminder_once_a_day"),
        ]

    def __str__(self) -> str:
        return f"{self.unit_id} {self.day} {self.status}"
